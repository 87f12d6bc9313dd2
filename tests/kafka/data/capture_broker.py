# Minimal fake broker on loopback that records Produce request frames (test-vector capture only).
import socket, struct, sys, threading, os
PORT=int(sys.argv[1]); OUT=sys.argv[2]; TAG=sys.argv[3]
APIS=[(0,0,7),(1,4,11),(2,0,5),(3,0,5),(8,0,7),(9,0,7),(10,0,2),(11,0,5),(12,0,3),(13,0,3),(14,0,3),(17,0,1),(18,0,3),(19,0,4),(20,0,3),(22,0,4),(36,0,1)]
def uv(n):
    b=b''
    while n>=0x80: b+=bytes([(n&0x7f)|0x80]); n>>=7
    return b+bytes([n])
def s16(s): s=s.encode(); return struct.pack('>h',len(s))+s
def i16(v): return struct.pack('>h',v)
def i32(v): return struct.pack('>i',v)
def i64(v): return struct.pack('>q',v)
def apiversions(ver):
    if ver>=3:
        body=i16(0)+uv(len(APIS)+1)+b''.join(i16(k)+i16(a)+i16(b)+b'\0' for k,a,b in APIS)+i32(0)+b'\0'
    else:
        body=i16(0)+i32(len(APIS))+b''.join(i16(k)+i16(a)+i16(b) for k,a,b in APIS)+(i32(0) if ver>=1 else b'')
    return body
def metadata(ver, topics):
    b=b''
    if ver>=3: b+=i32(0)
    b+=i32(1)+i32(0)+s16('127.0.0.1')+i32(PORT)+(i16(-1) if ver>=1 else b'')
    if ver>=2: b+=i16(-1)
    if ver>=1: b+=i32(0)
    b+=i32(len(topics))
    for t in topics:
        b+=i16(0)+s16(t)+(b'\0' if ver>=1 else b'')+i32(1)+i16(0)+i32(0)+i32(0)+i32(1)+i32(0)+i32(1)+i32(0)+(i32(0) if ver>=5 else b'')
    return b
def produce_resp(ver, frame_topics):
    b=i32(len(frame_topics))
    for t,parts in frame_topics:
        b+=s16(t)+i32(len(parts))
        for p in parts:
            b+=i32(p)+i16(0)+i64(0)+(i64(-1) if ver>=2 else b'')+(i64(0) if ver>=5 else b'')+((i32(0)+i16(-1)) if ver>=8 else b'')
    return b+i32(0)
def rd_s16(buf,pos):
    n=struct.unpack_from('>h',buf,pos)[0]; pos+=2
    if n<0: return None,pos
    return buf[pos:pos+n].decode(),pos+n
count=[0]
def handle(c):
    f=c.makefile('rb')
    while True:
        h=f.read(4)
        if len(h)<4: return
        n=struct.unpack('>i',h)[0]; fr=f.read(n)
        key,ver,corr=struct.unpack_from('>hhi',fr,0)
        cid,pos=rd_s16(fr,8)
        flexible = (key==18 and ver>=3)
        if key in (18,3):
            open(os.path.join(OUT,'%s-req-%d-v%d.bin'%(TAG,key,ver)),'wb').write(fr)
        if key==18: body=apiversions(ver)
        elif key==3:
            # topics array (v1+ nullable)
            cnt=struct.unpack_from('>i',fr,pos)[0]; pos+=4; ts=[]
            for _ in range(max(cnt,0)):
                t,pos=rd_s16(fr,pos); ts.append(t)
            if not ts: ts=['t']
            body=metadata(ver,ts)
        elif key==0:
            count[0]+=1
            with open(os.path.join(OUT,'%s-produce-v%d-%d.bin'%(TAG,ver,count[0])),'wb') as o: o.write(fr)
            if ver>=3: _,pos=rd_s16(fr,pos)
            acks=struct.unpack_from('>h',fr,pos)[0]; pos+=6
            tn=struct.unpack_from('>i',fr,pos)[0]; pos+=4; fts=[]
            for _ in range(tn):
                t,pos=rd_s16(fr,pos); pn=struct.unpack_from('>i',fr,pos)[0]; pos+=4; ps=[]
                for _ in range(pn):
                    p=struct.unpack_from('>i',fr,pos)[0]; ln=struct.unpack_from('>i',fr,pos+4)[0]; pos+=8+max(ln,0); ps.append(p)
                fts.append((t,ps))
            if acks==0: continue
            body=produce_resp(ver,fts)
        else:
            with open(os.path.join(OUT,'%s-other-%d-v%d.bin'%(TAG,key,ver)),'wb') as o: o.write(fr)
            return
        resp=i32(corr)+body
        c.sendall(i32(len(resp))+resp)
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(('127.0.0.1',PORT)); s.listen(8)
s.settimeout(30)
try:
    while True:
        c,_=s.accept(); threading.Thread(target=handle,args=(c,),daemon=True).start()
except socket.timeout:
    pass
